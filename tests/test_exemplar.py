import torch

from ssl_examples.methods.exemplar import RECIPE, ExemplarNetwork, build, exemplar_batch
from ssl_examples.nets import make_backbone
from tests.conftest import loss_before_and_after



def test_every_crop_is_labelled_with_its_image_index():
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    x, labels = exemplar_batch(images, torch.tensor([7, 3, 9, 0]), copies=3, strength=0.5, scale=(0.2, 1.0))
    assert x.shape == (12, 3, 16, 16)
    assert labels.tolist() == [7, 3, 9, 0] * 3
    assert not torch.allclose(x[0], x[4])  # two distortions of one image differ


def test_the_classifier_has_one_class_per_image_and_training_lowers_the_loss(tiny_data):
    torch.manual_seed(0)
    model = ExemplarNetwork(make_backbone("convnet"), len(tiny_data.train), copies=RECIPE.copies,
                            strength=RECIPE.strength, min_scale=RECIPE.min_scale)
    assert model.classifier.out_features == 128
    batch = tiny_data.train.__getitems__(list(range(16)))
    before, after = loss_before_and_after(model, lambda m: m(batch)[0], steps=8, lr=3e-3)
    assert after < 0.8 * before


def test_the_recipe_puts_one_crop_of_each_image_in_a_batch(tiny_data):
    # As in the paper, whose SGD batches are drawn from the whole surrogate dataset: each step
    # sees every image of its batch once, so a class vector is updated whenever its image comes round.
    model = build(RECIPE, tiny_data)
    seen = []
    model.classifier.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    batch = tiny_data.train.__getitems__(list(range(16)))
    model(batch)
    assert seen == [16]
