"""Scene, label, class-file and map I/O: the only part of the engine that touches file names."""

from .classes import ClassFileError, read_classes, write_classes
from .labels import LabelReadError, read_labels
from .read import SceneReadError, find_cube_key, find_label_key, read_mat_arrays, read_scene
from .write import (OutputExistsError, atomic_output, paletted_qml, write_class_map, write_confidence,
                    write_label_raster, write_scene)

__all__ = [
    "ClassFileError", "LabelReadError", "OutputExistsError", "SceneReadError",
    "atomic_output", "find_cube_key", "find_label_key", "paletted_qml", "read_classes", "read_labels",
    "read_mat_arrays", "read_scene", "write_class_map", "write_classes", "write_confidence",
    "write_label_raster", "write_scene",
]
