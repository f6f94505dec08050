"""Images per second: the on-device batch pipeline against a torchvision DataLoader.

Both sides deliver the same kind of epoch over the same CIFAR-shaped random uint8 data:
shuffled batches, random crop 32 with zero padding 4, horizontal flip, normalised float32
tensors, on the device the model would train on. A (`train_batches`) does it with batched
tensor ops on the device; B is the standard recipe, a Dataset of HWC uint8 arrays with
RandomCrop + RandomHorizontalFlip + ToTensor + Normalize in DataLoader workers (persistent,
warmed up, pinned memory on CUDA, so its start-up is not counted). Sides are interleaved
(A B A B ...) over several repeats and the median epoch of each is reported.

    python benchmarks/data_pipeline.py [--images 10000] [--batch-size 64] [--repeats 5] [--workers 2] [--threads N]
        [--device auto|cpu|cuda] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from asib_sweeps.data import Split, train_batches

MEAN, STD = (0.507, 0.487, 0.441), (0.267, 0.256, 0.276)


class HWCImages(Dataset):
    """What torchvision's CIFAR datasets do per sample: array -> PIL -> transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda[:N]")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 100, (args.images,), generator=generator)
    split = Split(images, labels).to(device)
    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    loader = DataLoader(
        HWCImages(images.permute(0, 2, 3, 1).numpy(), labels.numpy(), transform),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        pin_memory=device.type == "cuda",
    )

    def on_device_epoch(epoch: int) -> None:
        for x, y, _ in train_batches(
            split, batch_size=args.batch_size, seed=0, epoch=epoch, mean=MEAN, std=STD, crop_padding=4, flip=True
        ):
            x.sum()  # touch the batch, as a model would
        _synchronize(device)

    def dataloader_epoch(epoch: int) -> None:
        for x, y in loader:
            x.to(device, non_blocking=True).sum()
            y.to(device, non_blocking=True)
        _synchronize(device)

    sides = {"train_batches (on device)": on_device_epoch, f"DataLoader ({args.workers} workers)": dataloader_epoch}
    for run_epoch in sides.values():
        run_epoch(0)  # warm-up: worker start, allocator, kernels
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for repeat in range(1, args.repeats + 1):
        for name, run_epoch in sides.items():
            started = time.perf_counter()
            run_epoch(repeat)
            rates[name].append(args.images / (time.perf_counter() - started))

    print(
        f"device={device}  images={args.images}  batch_size={args.batch_size}  repeats={args.repeats}  "
        f"torch threads={torch.get_num_threads()}"
    )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        shown = ", ".join(f"{value:,.0f}" for value in values)
        print(f"{name:28s} median {medians[name]:>12,.0f} images/s   (runs: {shown})")
    first, second = medians.values()
    print(f"ratio train_batches / DataLoader: {first / second:.1f}x")
    if args.json:
        figures = {"train_batches.images_per_s": first, "dataloader.images_per_s": second, "ratio": first / second}
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        settings = {"images": args.images, "batch_size": args.batch_size, "repeats": args.repeats, "workers": args.workers}
        payload = {"benchmark": "data_pipeline", "machine": {"device": str(device), "device_name": name,
                   "torch_threads": torch.get_num_threads()}, **settings, "images_per_s": rates, "figures": figures}  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
