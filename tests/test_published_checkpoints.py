"""Published teacher files (RepDistiller / mdistiller layout) load into the zoo exactly.

Each file, built from the reference networks of `published_reference` and saved as the
authors saved theirs, must load into the zoo arch of the same name and give the
reference's logits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from published_reference import published_file, randomised, reference

from asib_sweeps.models import PretrainedWeightsError, create_model
from asib_sweeps.models.published import PUBLISHED_ARCHS, load_published_checkpoint, read_published_checkpoint


def test_the_saved_file_is_the_old_format_with_cuda_tags(tmp_path: Path) -> None:
    path = published_file(tmp_path, {"fc.weight": torch.ones(2, 2)}, accuracy=torch.tensor(79.42))
    raw = path.read_bytes()
    assert not raw.startswith(b"PK")  # not a zip archive
    assert b"cuda:0" in raw


@pytest.mark.parametrize("arch", PUBLISHED_ARCHS)
def test_published_file_gives_the_reference_logits(arch: str, tmp_path: Path) -> None:
    ref = randomised(reference(arch, 100), seed=len(arch))
    path = published_file(tmp_path, ref.state_dict(), accuracy=torch.tensor(75.61))
    model = create_model(arch, 100).eval()
    loaded = load_published_checkpoint(model, path, arch=arch)
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = ref(images), model(images).logits
    assert loaded.recorded_accuracy == pytest.approx(75.61, abs=1e-4)
    assert loaded.epoch == 240
    assert expected.std() > 0.1  # the comparison is not between two near-constant outputs
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_files_without_batch_counters_and_with_best_acc_load(tmp_path: Path) -> None:
    ref = randomised(reference("resnet8x4", 100), seed=3)
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = published_file(tmp_path, state, best_acc=torch.tensor(73.5))
    model = create_model("resnet8x4", 100).eval()
    assert load_published_checkpoint(model, path, arch="resnet8x4").recorded_accuracy == pytest.approx(73.5)
    with torch.no_grad():
        torch.testing.assert_close(model(torch.ones(2, 3, 32, 32)).logits, ref(torch.ones(2, 3, 32, 32)))


def test_another_archs_file_names_the_file_and_the_first_missing_key(tmp_path: Path) -> None:
    path = published_file(tmp_path, reference("resnet8x4", 100).state_dict(), accuracy=70.0)
    expected = r"ckpt_epoch_240\.pth.*arch='resnet32x4'.*lacks 'stages\.0\.1\.conv1\.weight' \(published 'layer1\.1\."
    with pytest.raises(PretrainedWeightsError, match=expected):
        load_published_checkpoint(create_model("resnet32x4", 100), path, arch="resnet32x4")


def test_other_class_count_names_the_shape(tmp_path: Path) -> None:
    path = published_file(tmp_path, reference("wrn_40_2", 100).state_dict(), accuracy=70.0)
    expected = r"'classifier\.weight' \(published 'fc\.weight'\) has shape \(100, 128\).*needs \(10, 128\)"
    with pytest.raises(PretrainedWeightsError, match=expected):
        load_published_checkpoint(create_model("wrn_40_2", 10), path, arch="wrn_40_2")


def test_a_key_outside_the_published_layout_is_named(tmp_path: Path) -> None:
    state = {**reference("vgg8", 100).state_dict(), "head.weight": torch.zeros(1)}
    path = published_file(tmp_path, state, accuracy=70.0)
    with pytest.raises(PretrainedWeightsError, match=r"key 'head\.weight' is not in the published vgg8 layout"):
        read_published_checkpoint(path, "vgg8")


def test_unsupported_arch_and_missing_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PretrainedWeightsError, match="arch='tiny_cnn' has no published CIFAR layout"):
        read_published_checkpoint(tmp_path / "x.pth", "tiny_cnn")
    with pytest.raises(PretrainedWeightsError, match=r"checkpoint='.*nope\.pth' does not exist"):
        read_published_checkpoint(tmp_path / "nope.pth", "resnet8")
