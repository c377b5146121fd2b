"""A registry's modules, imported on first use: the methods and the applications both use it."""

import importlib
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType


class LazyModules(Mapping):
    """``modules[name]`` -> the module ``package.name``, imported when first asked for.

    Iterating gives the names in the order they were given (the lecture's order), so listing
    every method costs no import of torch-heavy code until one is used.
    """

    def __init__(self, package: str, names: Iterable[str]):
        self.package, self.names = package, dict.fromkeys(names)

    def __getitem__(self, name: str) -> ModuleType:
        if name not in self.names:
            raise KeyError(name)
        return importlib.import_module(f"{self.package}.{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)
