"""The file layouts of the on-disk sources, free of torch: the readers read them, the plan's probe checks them."""

CIFAR100_FOLDER = "cifar-100-python"
"""torchvision's CIFAR100.base_folder (a test keeps them equal): the plan's probe must not import torchvision."""
CIFAR100_FILES = ("train", "test", "meta")
_IMAGENET32_TRAIN_BATCHES = tuple(f"train_data_batch_{index}" for index in range(1, 11))
IMAGENET32_TEST_BATCH = "val_data"
IMAGENET32_BATCHES = (*_IMAGENET32_TRAIN_BATCHES, IMAGENET32_TEST_BATCH)
