"""What each kind of object in the world looks like: its parts as 2-D signed distance
functions, and the colours each part may take.

An object is a few *parts* (a house is walls, roof, door and window), each a signed distance
function (SDF: negative inside, positive outside) in the object's own frame, where ``u`` points
right, ``v`` points up and the object fills about ``[-1, 1]^2``. Reading one drawing function
below (e.g. ``house``) is enough to see how a class is made. ``SHAPES`` names every kind with its
drawing function and per-part palettes; the first twelve kinds are the classes (``CLASSES``), the
rest are clutter. ``world.py`` places, colours and renders them.
"""

from __future__ import annotations

import math

import torch

# ----------------------------------------------------------------------------------------------
# Signed distance functions of primitive shapes.  Arguments ``u, v`` are coordinate tensors
# (B, H, W); the shape parameters are numbers or (B, 1, 1) tensors (so a shape code can vary them).


def circle(u, v, cx, cy, r):
    return torch.hypot(u - cx, v - cy) - r


def ellipse(u, v, cx, cy, rx, ry):
    """Approximate SDF (exact on the axes), good enough for anti-aliased edges."""
    return (torch.hypot((u - cx) / rx, (v - cy) / ry) - 1) * min_(rx, ry)


def box(u, v, cx, cy, hx, hy, r=0.0):
    """A rectangle with half-sizes ``hx, hy`` and corners rounded by ``r``."""
    qx = (u - cx).abs() - hx + r
    qy = (v - cy).abs() - hy + r
    outside = torch.hypot(qx.clamp(min=0), qy.clamp(min=0))
    inside = torch.maximum(qx, qy).clamp(max=0)
    return outside + inside - r


def capsule(u, v, ax, ay, bx, by, r):
    """A thick line segment from ``(ax, ay)`` to ``(bx, by)`` with radius ``r``."""
    px, py, dx, dy = u - ax, v - ay, bx - ax, by - ay
    t = ((px * dx + py * dy) / (dx * dx + dy * dy)).clamp(0, 1)
    return torch.hypot(px - t * dx, py - t * dy) - r


def poly(u, v, *points):
    """A convex polygon: the largest signed distance to its edge lines (exact near the edges)."""
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(points, points[1:] + points[:1]))
    sign = torch.sign(torch.as_tensor(area))  # so that either winding order works
    d = None
    for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1]):
        ex, ey = bx - ax, by - ay
        length = (ex * ex + ey * ey) ** 0.5
        edge = sign * ((u - ax) * ey - (v - ay) * ex) / length  # > 0 outside this edge
        d = edge if d is None else torch.maximum(d, edge)
    return d


def rotated(u, v, cx, cy, degrees):
    """Coordinates of a frame centred at ``(cx, cy)`` and turned by ``degrees``."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    du, dv = u - cx, v - cy
    return c * du + s * dv, -s * du + c * dv


def min_(a, b):
    return torch.minimum(torch.as_tensor(a), torch.as_tensor(b))


union = torch.minimum


def intersect(a, b):
    return torch.maximum(a, b)


# ----------------------------------------------------------------------------------------------
# The classes.  Each function returns the SDFs of its parts, back to front; ``z`` is a shape code
# (B, 4, 1, 1) in [-1, 1] that varies the proportions of one instance.


# --8<-- [start:house]
def house(u, v, z):
    walls = box(u, v, 0, -0.4, 0.6 + 0.1 * z[:, 0], 0.5)
    roof = poly(u, v, (-0.8, 0.05), (0.8, 0.05), (0.15 * z[:, 2], 0.6 + 0.25 * z[:, 1]))
    door = box(u, v, 0.25, -0.65, 0.13, 0.25)
    window = box(u, v, -0.25, -0.3, 0.14, 0.12)
    return [walls, roof, door, window]
# --8<-- [end:house]


def tree(u, v, z):
    trunk = box(u, v, 0, -0.55, 0.11 + 0.04 * z[:, 0], 0.45)
    r = 0.36 + 0.06 * z[:, 1]
    crown = union(circle(u, v, 0, 0.3, 0.52 + 0.08 * z[:, 2]), union(circle(u, v, -0.38, 0.0, r), circle(u, v, 0.38, 0.0, r)))
    return [trunk, crown]


def car(u, v, z):
    cabin = poly(u, v, (-0.6, -0.05), (0.35, -0.05), (0.15, 0.35 + 0.1 * z[:, 0]), (-0.45, 0.35 + 0.1 * z[:, 0]))
    body = box(u, v, 0, -0.25, 0.92, 0.22 + 0.04 * z[:, 1], 0.1)
    window = poly(u, v, (-0.5, 0.0), (0.25, 0.0), (0.1, 0.27 + 0.1 * z[:, 0]), (-0.4, 0.27 + 0.1 * z[:, 0]))
    wheels = union(circle(u, v, -0.55, -0.5, 0.22), circle(u, v, 0.55, -0.5, 0.22))
    return [cabin, body, window, wheels]


def fish(u, v, z):
    tail = poly(u, v, (0.4, 0.0), (0.95, 0.45 + 0.1 * z[:, 0]), (0.95, -0.45 - 0.1 * z[:, 0]))
    fin = poly(u, v, (-0.35, 0.2), (0.2, 0.2), (0.1, 0.62 + 0.1 * z[:, 1]))
    body = ellipse(u, v, -0.1, 0, 0.65, 0.36 + 0.08 * z[:, 2])
    eye = circle(u, v, -0.45, 0.1, 0.08)
    return [tail, fin, body, eye]


def mushroom(u, v, z):
    stem = box(u, v, 0, -0.45, 0.18 + 0.05 * z[:, 0], 0.45, 0.08)
    cap = intersect(ellipse(u, v, 0, -0.1, 0.85 + 0.1 * z[:, 1], 0.75 + 0.15 * z[:, 2]), -(v + 0.1))
    spots = union(circle(u, v, -0.4, 0.15, 0.11), union(circle(u, v, 0.1, 0.38, 0.13), circle(u, v, 0.45, 0.1, 0.1)))
    return [stem, cap, intersect(spots, cap)]


def sailboat(u, v, z):
    mast = capsule(u, v, 0, -0.5, 0, 0.9, 0.04)
    main_sail = poly(u, v, (0.08, -0.35), (0.08, 0.85), (0.7 + 0.15 * z[:, 0], -0.35))
    jib = poly(u, v, (-0.07, -0.35), (-0.07, 0.65), (-0.5 - 0.1 * z[:, 1], -0.35))
    hull = poly(u, v, (-0.95, -0.45), (0.95, -0.45), (0.6, -0.85), (-0.65, -0.85))
    return [mast, union(main_sail, jib), hull]


def rocket(u, v, z):
    fins = union(poly(u, v, (-0.24, -0.2), (-0.24, -0.7), (-0.55, -0.85)), poly(u, v, (0.24, -0.2), (0.55, -0.85), (0.24, -0.7)))
    body = box(u, v, 0, -0.15, 0.24 + 0.04 * z[:, 0], 0.55, 0.1)
    nose = poly(u, v, (-0.24, 0.38), (0.24, 0.38), (0, 0.9 + 0.08 * z[:, 1]))
    window = circle(u, v, 0, 0.1, 0.11)
    return [fins, body, nose, window]


def snowman(u, v, z):
    body = union(circle(u, v, 0, -0.55, 0.4 + 0.04 * z[:, 0]), union(circle(u, v, 0, -0.02, 0.3), circle(u, v, 0, 0.42, 0.22)))
    hat = union(box(u, v, 0, 0.74, 0.15, 0.14), box(u, v, 0, 0.61, 0.26, 0.035))
    nose = poly(u, v, (0.05, 0.46), (0.05, 0.37), (0.32 + 0.05 * z[:, 1], 0.41))
    buttons = union(circle(u, v, 0, 0.08, 0.05), circle(u, v, 0, -0.12, 0.05))
    return [body, hat, nose, buttons]


def umbrella(u, v, z):
    shaft = capsule(u, v, 0, 0.95, 0, -0.6, 0.045)
    hook = intersect(circle(u, v, 0.17, -0.6, 0.17).abs() - 0.045, v + 0.6)
    scallops = torch.hypot(torch.remainder(u + 0.9, 0.3) - 0.15, v + 0.02) - 0.15  # a row of bites
    canopy = intersect(intersect(circle(u, v, 0, 0, 0.92), -v), -scallops)
    return [union(shaft, hook), canopy]


def flower(u, v, z):
    stem = capsule(u, v, 0, -0.95, 0, 0.3, 0.05)
    leaves = union(ellipse(*rotated(u, v, 0.25, -0.45, 35), 0, 0, 0.26, 0.09), ellipse(*rotated(u, v, -0.25, -0.65, -35), 0, 0, 0.26, 0.09))
    cy, ring, r = 0.42, 0.3 + 0.04 * z[:, 0], 0.19 + 0.03 * z[:, 1]
    petals = circle(u, v, 0, cy + ring, r)
    for k in range(1, 6):
        a = 2 * math.pi * k / 5
        petals = union(petals, circle(u, v, ring * math.sin(a), cy + ring * math.cos(a), r))
    centre = circle(u, v, 0, cy, 0.15)
    return [stem, leaves, petals, centre]


def bird(u, v, z):
    legs = union(capsule(u, v, -0.05, -0.35, -0.12, -0.85, 0.035), capsule(u, v, 0.15, -0.35, 0.15, -0.85, 0.035))
    body = union(ellipse(u, v, 0, -0.1, 0.55, 0.33 + 0.05 * z[:, 0]), poly(u, v, (-0.35, 0.05), (-0.95, 0.3 + 0.1 * z[:, 1]), (-0.9, -0.1)))
    wing = ellipse(*rotated(u, v, -0.1, 0.0, 15), 0, 0, 0.34, 0.16)
    head = circle(u, v, 0.5, 0.25, 0.22)
    beak = poly(u, v, (0.66, 0.33), (0.66, 0.17), (0.97, 0.25))
    eye = circle(u, v, 0.55, 0.3, 0.05)
    return [legs, body, wing, head, beak, eye]


def lamp(u, v, z):
    pole = capsule(u, v, 0, -0.8, 0, 0.3, 0.045)
    base = box(u, v, 0, -0.85, 0.35 + 0.05 * z[:, 0], 0.08, 0.04)
    w = 0.6 + 0.08 * z[:, 1]
    shade = poly(u, v, (-0.3, 0.8), (0.3, 0.8), (w, 0.1), (-w, 0.1))
    return [pole, base, shade]


# Clutter: single-part shapes with no meaning, drawn behind and in front of the main object.


def blob(u, v, z):
    return [ellipse(u, v, 0, 0, 1.0, 0.6 + 0.3 * z[:, 0])]


def stick(u, v, z):
    return [capsule(u, v, -1, 0, 1, 0, 0.12 + 0.05 * z[:, 0])]


def block(u, v, z):
    return [box(u, v, 0, 0, 1.0, 0.6 + 0.3 * z[:, 0], 0.1)]


def wedge(u, v, z):
    return [poly(u, v, (-1.0, -0.8), (1.0, -0.8), (0.5 * z[:, 0], 0.9))]


def ring(u, v, z):
    return [circle(u, v, 0, 0, 0.8).abs() - 0.15 - 0.05 * z[:, 0]]


# ----------------------------------------------------------------------------------------------
# Colours: named (hue, saturation, value) triples; a palette gives each part a list of names,
# or the index of an earlier part whose colour it copies.  Several classes share colours.

COLOURS = {
    "red": (0.0, 0.8, 0.85), "orange": (0.07, 0.85, 0.95), "yellow": (0.14, 0.8, 0.95),
    "green": (0.33, 0.65, 0.7), "darkgreen": (0.37, 0.7, 0.42), "lightblue": (0.55, 0.4, 0.95),
    "blue": (0.62, 0.75, 0.8), "purple": (0.78, 0.55, 0.65), "pink": (0.92, 0.4, 0.95),
    "brown": (0.07, 0.7, 0.45), "beige": (0.11, 0.3, 0.9), "white": (0.0, 0.0, 0.95),
    "grey": (0.0, 0.0, 0.55), "black": (0.0, 0.0, 0.15),
}
ANY = tuple(COLOURS)
BRIGHT = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black")

# name: (drawing function, per-part palettes, horizontal flip keeps the meaning)
SHAPES = {
    # --8<-- [start:house-palette]
    "house": (house, [("beige", "white", "yellow", "red", "lightblue", "pink"),  # walls
                      ("red", "brown", "grey", "black", "blue"),  # roof
                      ("brown", "blue", "red", "green", "black"),  # door
                      ("lightblue", "yellow", "white")], True),  # window; a mirrored house is a house
    # --8<-- [end:house-palette]
    "tree": (tree, [("brown", "black", "grey"), ("green", "darkgreen", "orange", "yellow", "red", "pink")], True),
    "car": (car, [1, BRIGHT + ("grey", "lightblue"), ("lightblue", "grey", "white"), ("black", "grey")], True),
    "fish": (fish, [("orange", "yellow", "blue", "red", "purple", "white"), 0, ("orange", "yellow", "blue", "red", "grey", "purple", "green"), ("black",)], True),
    "mushroom": (mushroom, [("white", "beige", "grey"), ("red", "brown", "orange", "beige", "purple", "yellow"), ("white", "beige", "yellow")], True),
    "sailboat": (sailboat, [("brown", "black", "grey"), ("white", "beige", "red", "yellow", "blue", "orange"), ("brown", "red", "blue", "white", "black")], True),
    "rocket": (rocket, [("red", "orange", "blue", "yellow", "black"), ("white", "grey", "lightblue", "yellow"), ("red", "orange", "blue", "black"), ("lightblue", "black")], True),
    "snowman": (snowman, [("white", "beige", "lightblue"), ("black", "red", "blue", "green", "brown"), ("orange",), ("black",)], True),
    "umbrella": (umbrella, [("black", "brown", "grey"), ("red", "blue", "yellow", "purple", "green", "pink", "black", "orange")], True),
    "flower": (flower, [("green", "darkgreen"), ("green", "darkgreen"), ("red", "yellow", "pink", "purple", "white", "blue", "orange"), ("yellow", "brown", "orange", "black")], True),
    "bird": (bird, [("orange", "black", "brown"), ("blue", "red", "brown", "yellow", "grey", "black"), ("blue", "red", "brown", "yellow", "grey", "black", "white"), 1, ("orange", "yellow"), ("black",)], True),
    "lamp": (lamp, [("grey", "black", "yellow"), 0, ("beige", "white", "yellow", "red", "green", "blue", "pink")], True),
    "blob": (blob, [ANY], True), "stick": (stick, [ANY], True), "block": (block, [ANY], True),
    "wedge": (wedge, [ANY], True), "ring": (ring, [ANY], True),
}
KINDS = tuple(SHAPES)
CLASSES: tuple[str, ...] = KINDS[:12]
CLUTTER = KINDS[12:]
MAX_PARTS = max(len(p) for _, p, _ in SHAPES.values())
