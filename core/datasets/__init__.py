"""Benchmark datasets: the registry, finding or downloading their files, and loading them as labelled scenes."""

from .fetch import DatasetDownloadError, DatasetNotFoundError, cache_dir, fetch_files, search_dirs
from .loaders import (
    DatasetFormatError, available_datasets, load_dataset, load_enmap_tiles, load_scene_only,
)
from .registry import DatasetFile, DatasetSpec, UnknownDatasetError, get_spec, list_datasets

__all__ = [
    "DatasetDownloadError", "DatasetFile", "DatasetFormatError", "DatasetNotFoundError", "DatasetSpec",
    "UnknownDatasetError", "available_datasets", "cache_dir", "fetch_files", "get_spec", "list_datasets",
    "load_dataset", "load_enmap_tiles", "load_scene_only", "search_dirs",
]
