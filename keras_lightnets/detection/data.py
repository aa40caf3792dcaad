"""Labelled detection folders (COCO, Pascal VOC, YOLO), streamed with ``tf.data`` for SSDLite training.

:func:`detection_folder` reads any of the three layouts labelling tools
write (detected from the folder, or named with ``layout``), checks every
image once, turns boxes into upright pixel corners (EXIF applied), cleans
what is messy (boxes clipped to the image, zero-area and inverted boxes
dropped, crowd boxes kept out of training) and returns a
:class:`DetectionData`: ``tf.data`` splits of ``(images, targets)`` where
``targets`` is ``[B, M, 5]`` (``x1, y1, x2, y2`` in model-input pixels, then
the class 1..C; a crowd or "difficult" box has class -1..-C: evaluated as
"ignore", never trained on; rows of class 0 are padding), the ground truth
per image, and training images for int8 calibration.
"""

from __future__ import annotations

import dataclasses
import json
import os
import xml.etree.ElementTree as ElementTree
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from keras_lightnets.data import IMAGE_SUFFIXES, SPLITS, Data, check_fractions, jitter_colours, load_image
from keras_lightnets.validation import check_bool, check_choice, check_int, require_extra, warn_caller

__all__ = ["LAYOUTS", "DetectionData", "Labelled", "detect_layout", "detection_folder", "flip_boxes", "zoom_out"]

LAYOUTS = ("coco", "voc", "yolo")
_EXIF_ORIENTATION = 0x0112


class Labelled(NamedTuple):
    """One image's ground truth: upright pixel corners, classes 0..C-1 and crowd flags."""

    path: str
    size: tuple[int, int]  # (height, width) upright (EXIF applied)
    boxes: np.ndarray  # [n, 4] float32 x1, y1, x2, y2
    labels: np.ndarray  # [n] int32
    crowd: np.ndarray  # [n] bool: COCO's iscrowd (evaluated as "ignore", never trained on)


@dataclasses.dataclass
class DetectionData(Data):
    """:class:`~keras_lightnets.data.Data` for detection: targets ``[B, M, 5]`` and the ground truth per split."""

    truth: dict[str, list[Labelled]] = dataclasses.field(default_factory=dict)  # val / test in pipeline order
    layout: str = ""


class _Raw(NamedTuple):
    """An annotation as read: boxes in the annotation's pixels (or normalised), before the image is checked."""

    path: str
    boxes: np.ndarray  # [n, 4] x1, y1, x2, y2
    labels: np.ndarray
    crowd: np.ndarray
    size: tuple[int, int] | None  # (height, width) the annotation states; None: boxes normalised to [0, 1]
    source: str  # the annotation file (for messages)


# --------------------------------------------------------------------------- layouts


def detect_layout(path: str) -> str:
    """Which of :data:`LAYOUTS` the folder ``path`` follows; ``ValueError`` when none.

    Args:
        path: the dataset folder.

    Examples:
        >>> detect_layout("boxes/")
        'yolo'
    """
    if os.path.isfile(os.path.join(path, "annotations.json")) or all(
        os.path.isfile(os.path.join(path, split, "annotations.json")) for split in SPLITS
    ):
        return "coco"
    if os.path.isdir(os.path.join(path, "Annotations")) and os.path.isdir(os.path.join(path, "JPEGImages")):
        return "voc"
    if os.path.isdir(os.path.join(path, "images")) and os.path.isdir(os.path.join(path, "labels")):
        return "yolo"
    raise ValueError(
        f"{path!r} matches no detection layout: COCO needs annotations.json (or train/, val/, test/ each with one), "
        "Pascal VOC needs Annotations/ and JPEGImages/, YOLO needs images/ and labels/."
    )


def _read_coco(path: str, problems: list[str]) -> tuple[list[str], dict[str, list[_Raw]]]:
    splits = [s for s in SPLITS if os.path.isfile(os.path.join(path, s, "annotations.json"))]
    files = {s: os.path.join(path, s, "annotations.json") for s in splits} if len(splits) == 3 else {
        "all": os.path.join(path, "annotations.json")}
    names: list[str] | None = None
    out: dict[str, list[_Raw]] = {}
    for split, file in files.items():
        try:
            with open(file, encoding="utf-8") as handle:
                document = json.load(handle)
            categories = sorted(document["categories"], key=lambda c: int(c["id"]))
            images, annotations = document["images"], document.get("annotations", [])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{file!r} is not a COCO instances file: {type(error).__name__}: {error}") from None
        split_names = [str(c["name"]) for c in categories]
        if names is not None and split_names != names:
            raise ValueError(f"{file!r} has categories {split_names}; the other splits have {names}.")
        names = split_names
        index = {int(c["id"]): k for k, c in enumerate(categories)}
        per_image: dict[int, list[dict]] = {int(image["id"]): [] for image in images}
        for annotation in annotations:
            if int(annotation.get("category_id", -1)) not in index:
                problems.append(f"{file}: annotation {annotation.get('id')} has unknown category_id "
                                   f"{annotation.get('category_id')!r} (categories: {sorted(index)})")
            elif int(annotation.get("image_id", -1)) not in per_image:
                problems.append(f"{file}: annotation {annotation.get('id')} names image_id "
                                   f"{annotation.get('image_id')!r}, which is not in 'images'")
            else:
                per_image[int(annotation["image_id"])].append(annotation)
        records = []
        for image in images:
            found = per_image[int(image["id"])]
            boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in found], dtype=np.float32).reshape(-1, 4)
            labels = np.array([index[int(a["category_id"])] for a in found], dtype=np.int32)
            crowd = np.array([bool(a.get("iscrowd", 0)) for a in found], dtype=bool)
            size = (int(image["height"]), int(image["width"])) if "height" in image and "width" in image else None
            records.append(_Raw(os.path.join(os.path.dirname(file), image["file_name"]), boxes, labels, crowd, size, file))
        out[split] = records
    return names or [], out


def _read_voc(path: str, problems: list[str]) -> tuple[list[str], dict[str, list[_Raw]]]:
    folder = os.path.join(path, "Annotations")
    sets = {s: os.path.join(path, "ImageSets", "Main", f"{s}.txt") for s in SPLITS}
    if all(os.path.isfile(f) for f in sets.values()):
        stems = {}
        for split, file in sets.items():
            with open(file, encoding="utf-8") as handle:
                stems[split] = [line.split()[0] for line in handle if line.strip()]
    else:
        stems = {"all": sorted(os.path.splitext(f)[0] for f in os.listdir(folder) if f.endswith(".xml"))}
    parsed: dict[str, list[tuple[str, list[tuple[str, list[float], bool]], tuple[int, int] | None, str]]] = {}
    names: set[str] = set()
    for split, members in stems.items():
        parsed[split] = []
        for stem in members:
            file = os.path.join(folder, f"{stem}.xml")
            try:
                root = ElementTree.parse(file).getroot()
                objects = [(o.findtext("name", "").strip(), [float(o.find("bndbox").findtext(k)) for k in
                            ("xmin", "ymin", "xmax", "ymax")], o.findtext("difficult", "0").strip() == "1")
                           for o in root.iter("object")]
                size = root.find("size")
                stated = (int(float(size.findtext("height"))), int(float(size.findtext("width")))) if size is not None else None
            except (OSError, ElementTree.ParseError, AttributeError, TypeError, ValueError) as error:
                problems.append(f"{file}: not a Pascal VOC annotation ({type(error).__name__}: {error})")
                continue
            names.update(name for name, _, _ in objects)
            image = os.path.join(path, "JPEGImages", root.findtext("filename", f"{stem}.jpg").strip())
            parsed[split].append((image, objects, stated, file))
    class_names = sorted(names)
    index = {name: k for k, name in enumerate(class_names)}
    out = {}
    for split, items in parsed.items():
        out[split] = []
        for image, objects, stated, file in items:
            # VOC corners are 1-based pixel indices, inclusive: pixel i spans [i - 1, i).
            boxes = np.array([[b[0] - 1, b[1] - 1, b[2], b[3]] for _, b, _ in objects], dtype=np.float32).reshape(-1, 4)
            labels = np.array([index[name] for name, _, _ in objects], dtype=np.int32)
            difficult = np.array([d for _, _, d in objects], dtype=bool)  # evaluated as "ignore", like crowd
            out[split].append(_Raw(image, boxes, labels, difficult, stated, file))
    return class_names, out


def _yolo_names(path: str) -> list[str]:
    require_extra("detection", "Reading a YOLO folder", modules=["yaml"])
    import yaml

    if os.path.isfile(os.path.join(path, "data.yaml")):
        with open(os.path.join(path, "data.yaml"), encoding="utf-8") as handle:
            try:
                names = (yaml.safe_load(handle) or {}).get("names")
            except yaml.YAMLError as error:
                raise ValueError(f"{os.path.join(path, 'data.yaml')!r} does not parse: {error}") from None
        if isinstance(names, dict):
            names = [names[k] for k in sorted(names, key=int)]
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        raise ValueError(f"{os.path.join(path, 'data.yaml')!r} has no `names` list or mapping.")
    if os.path.isfile(os.path.join(path, "classes.txt")):
        with open(os.path.join(path, "classes.txt"), encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    raise ValueError(f"The YOLO folder {path!r} needs data.yaml (with `names`) or classes.txt.")


def _read_yolo(path: str, problems: list[str]) -> tuple[list[str], dict[str, list[_Raw]]]:
    names = _yolo_names(path)
    split_folders = [s for s in SPLITS if os.path.isdir(os.path.join(path, "images", s))]
    parts = {s: s for s in SPLITS} if len(split_folders) == 3 else {"all": ""}
    out = {}
    for split, sub in parts.items():
        images = sorted(f for f in os.listdir(os.path.join(path, "images", sub)) if f.lower().endswith(IMAGE_SUFFIXES))
        out[split] = []
        for name in images:
            file = os.path.join(path, "labels", sub, os.path.splitext(name)[0] + ".txt")
            rows: list[list[float]] = []
            if os.path.isfile(file):  # no label file: a negative image
                with open(file, encoding="utf-8") as handle:
                    try:
                        rows = [[float(v) for v in line.split()[:5]] for line in handle if line.strip()]
                    except ValueError as error:
                        problems.append(f"{file}: not a YOLO label file ({error})")
                        continue
            bad = [r for r in rows if len(r) != 5 or not float(r[0]).is_integer() or not 0 <= r[0] < len(names)]
            if bad:
                problems.append(f"{file}: class id {bad[0][0] if bad[0] else '?'} is not in 0..{len(names) - 1} "
                                   f"(or a row has fewer than 5 numbers)")
                continue
            table = np.array(rows, dtype=np.float32).reshape(-1, 5)
            cx, cy, w, h = table[:, 1], table[:, 2], table[:, 3], table[:, 4]
            boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
            out[split].append(_Raw(os.path.join(path, "images", sub, name), boxes, table[:, 0].astype(np.int32),
                                   np.zeros(len(table), bool), None, file))
    return names, out


# --------------------------------------------------------------------------- images and boxes


def _upright(boxes: np.ndarray, orientation: int, stored: tuple[int, int]) -> np.ndarray:
    """Boxes in a stored image's pixels -> in the upright image's (EXIF orientation 1-8)."""
    height, width = stored
    x1, y1, x2, y2 = boxes.T
    mapped = {
        1: (x1, y1, x2, y2), 2: (width - x1, y1, width - x2, y2), 3: (width - x1, height - y1, width - x2, height - y2),
        4: (x1, height - y1, x2, height - y2), 5: (y1, x1, y2, x2), 6: (height - y1, x1, height - y2, x2),
        7: (height - y1, width - x1, height - y2, width - x2), 8: (y1, width - x1, y2, width - x2),
    }[orientation]
    a, b, c, d = mapped
    return np.stack([np.minimum(a, c), np.minimum(b, d), np.maximum(a, c), np.maximum(b, d)], axis=-1).astype(np.float32)


def _image_info(path: str) -> tuple[int, tuple[int, int], str]:
    """(EXIF orientation, stored (height, width), problem) of one image, decoding it fully once."""
    try:
        with Image.open(path) as image:
            orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
            image.load()
            return (orientation if 1 <= orientation <= 8 else 1), (image.height, image.width), ""
    except FileNotFoundError:
        return 1, (0, 0), "missing"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return 1, (0, 0), f"{type(error).__name__}: {error}"


def _label(raw: _Raw, orientation: int, stored: tuple[int, int], problems: list[str]) -> tuple[Labelled, int] | None:
    """The upright, clipped ground truth of one image and how many boxes were dropped; None on a size mismatch."""
    upright = (stored[1], stored[0]) if orientation in (5, 6, 7, 8) else stored
    boxes = raw.boxes
    if raw.size is None:  # normalised (YOLO): relative to the image as displayed
        boxes = boxes * np.array([upright[1], upright[0], upright[1], upright[0]], np.float32)
    elif tuple(raw.size) == tuple(stored) and orientation != 1:
        boxes = _upright(boxes, orientation, stored)
    elif tuple(raw.size) != tuple(upright):
        problems.append(f"{raw.source}: {raw.path} is {upright[1]}x{upright[0]} but the annotation says "
                        f"{raw.size[1]}x{raw.size[0]}")
        return None
    boxes = np.clip(boxes, 0, [upright[1], upright[0], upright[1], upright[0]]).astype(np.float32)
    keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1) & np.isfinite(boxes).all(axis=1)
    return Labelled(raw.path, upright, boxes[keep], raw.labels[keep], raw.crowd[keep]), int(np.sum(~keep))


# --------------------------------------------------------------------------- augmentation


def flip_boxes(boxes: Any) -> Any:
    """Boxes ``[..., 4]`` (normalised ``x1, y1, x2, y2``) of the horizontally flipped image.

    Args:
        boxes: normalised corners (a tensor or array).

    Examples:
        >>> flip_boxes(np.array([[0.1, 0.2, 0.3, 0.4]])).round(3).tolist()
        [[0.7, 0.2, 0.9, 0.4]]
    """
    if isinstance(boxes, np.ndarray):
        return np.stack([1 - boxes[..., 2], boxes[..., 1], 1 - boxes[..., 0], boxes[..., 3]], axis=-1)
    import tensorflow as tf

    return tf.stack([1 - boxes[..., 2], boxes[..., 1], 1 - boxes[..., 0], boxes[..., 3]], axis=-1)


def zoom_out(image: Any, boxes: Any, scale: Any, offset: Any) -> tuple[Any, Any]:
    """SSD's "zoom out": ``image`` placed on a ``scale`` x larger canvas of its mean colour, resized back.

    Objects become smaller (the data for the small-object feature maps).

    Args:
        image: ``[H, W, 3]`` float tensor.
        boxes: ``[M, 4]`` normalised corners.
        scale: canvas side / image side, >= 1.
        offset: ``(y, x)`` in [0, 1]: where the image sits in the free space.

    Examples:
        >>> image, boxes = zoom_out(np.ones((64, 64, 3), "float32"), np.array([[0.0, 0.0, 1.0, 1.0]], "float32"), 2.0, (0.5, 0.5))
        >>> np.asarray(boxes).round(2).tolist()
        [[0.25, 0.25, 0.75, 0.75]]
    """
    import tensorflow as tf

    height, width = tf.shape(image)[0], tf.shape(image)[1]
    canvas_h = tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32)
    canvas_w = tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32)
    top = tf.cast(tf.cast(canvas_h - height, tf.float32) * offset[0], tf.int32)
    left = tf.cast(tf.cast(canvas_w - width, tf.float32) * offset[1], tf.int32)
    mean = tf.reduce_mean(image, axis=(0, 1))
    placed = tf.image.pad_to_bounding_box(image - mean, top, left, canvas_h, canvas_w) + mean
    resized = tf.image.resize(placed, (height, width), antialias=True)
    shift = tf.cast(tf.stack([left, top, left, top]), tf.float32)
    size = tf.cast(tf.stack([width, height, width, height]), tf.float32)
    canvas = tf.cast(tf.stack([canvas_w, canvas_h, canvas_w, canvas_h]), tf.float32)
    return resized, (boxes * size + shift) / canvas


def _augment(image: Any, boxes: Any, seed: Any, flip: bool) -> tuple[Any, Any]:
    """Training only: zoom out (p 0.5, up to 2x), horizontal flip (p 0.5 if ``flip``), brightness / contrast / saturation."""
    import tensorflow as tf

    draws = tf.random.stateless_uniform((6,), seed)
    image, zoomed = tf.cond(
        draws[0] < 0.5,
        lambda: zoom_out(image, boxes, 1.0 + draws[1], draws[2:4]),
        lambda: (image, boxes),
    )
    image, zoomed = tf.cond(
        flip & (draws[4] < 0.5), lambda: (tf.image.flip_left_right(image), flip_boxes(zoomed)), lambda: (image, zoomed)
    )
    return jitter_colours(image, seed), zoomed


# --------------------------------------------------------------------------- the folder


def _split_all(records: list[_Raw], val: float, test: float, seed: int) -> dict[str, list[_Raw]]:
    order = np.random.default_rng(seed).permutation(len(records))
    n_val, n_test = max(1, int(round(val * len(records)))), max(1, int(round(test * len(records))))
    return {
        "train": [records[i] for i in order[n_val + n_test:]],
        "val": [records[i] for i in order[:n_val]],
        "test": [records[i] for i in order[n_val:n_val + n_test]],
    }


def _pipeline(labelled: list[Labelled], orientations: dict[str, int], size: int, batch: int, boxes: int,
              train: bool, augment: bool, flip: bool, seed: int) -> Any:
    import tensorflow as tf

    padded = np.zeros((len(labelled), boxes, 4), np.float32)
    classes = np.zeros((len(labelled), boxes), np.int32)
    for row, item in enumerate(labelled):  # classes 1..C; crowd / difficult boxes -(1..C): evaluated, never trained
        count = len(item.labels)
        height, width = item.size
        padded[row, :count] = item.boxes / np.array([width, height, width, height], np.float32)
        classes[row, :count] = np.where(item.crowd, -(item.labels + 1), item.labels + 1)
    paths = [item.path for item in labelled]
    dataset = tf.data.Dataset.from_tensor_slices((paths, [orientations[p] for p in paths], padded, classes))
    if train:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda p, o, b, c: (load_image(p, o, size), b, c), num_parallel_calls=tf.data.AUTOTUNE)
    if train and augment:
        dataset = dataset.enumerate().map(
            lambda i, item: (*_augment(item[0], item[1], tf.stack([tf.cast(i, tf.int32), seed]), flip), item[2]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    scale = float(size)

    def targets(image: Any, corners: Any, labels: Any) -> tuple[Any, Any]:
        return image, tf.concat([corners * scale, tf.cast(labels, tf.float32)[:, None]], axis=-1)

    dataset = dataset.map(targets, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(paths)))
    return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)


def detection_folder(
    path: Any,
    input_size: int = 320,
    batch_size: int = 32,
    *,
    layout: str | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    augment: bool = True,
    flip: bool = True,
    strict: bool = True,
    seed: int = 0,
) -> DetectionData:
    """A labelled detection folder as train / val / test ``tf.data`` splits of ``(images, targets)``.

    Layouts (detected, or named by ``layout``):

    * COCO: ``path/{train,val,test}/annotations.json`` (instances format; ``file_name``
      relative to that folder), or one ``path/annotations.json`` split by the fractions.
    * Pascal VOC: ``path/Annotations/*.xml``, ``path/JPEGImages/``, and
      ``path/ImageSets/Main/{train,val,test}.txt`` (else split by the fractions);
      classes sorted by name; ``difficult`` objects are evaluated as "ignore".
    * YOLO: ``path/images/{train,val,test}/`` with ``path/labels/...`` beside
      (else ``images/`` and ``labels/`` split by the fractions); class names
      from ``data.yaml`` (``names``) or ``classes.txt``.

    Images are resized to ``input_size`` squared (boxes with them); EXIF
    rotation turns images upright, and boxes too when the annotation states
    the stored size. Boxes are clipped to the image; boxes under one pixel
    wide or high are dropped (one warning counts them); images without boxes
    stay as negatives; crowd boxes are never trained on. Unreadable images
    are skipped with one warning. Annotation problems (a missing image, an
    unknown category or class id, a file that does not parse, a stated size
    that is not the image's) raise one ``ValueError`` listing them, or with
    ``strict=False`` those images are skipped with a warning.

    Args:
        path: the dataset folder.
        input_size: square model input side (>= 64).
        batch_size: batch size (>= 1).
        layout: one of :data:`LAYOUTS`, or None to detect it.
        val_fraction: share for validation when the layout has no splits, in (0, 1).
        test_fraction: share for the test when the layout has no splits, in (0, 1).
        augment: zoom out, flip and colour jitter on the training split.
        flip: random horizontal flips (with ``augment``; turn off where left and right differ).
        strict: annotation problems are an error (True) or skip their images (False).
        seed: split, shuffle and augmentation seed (>= 0).

    Examples:
        >>> data = detection_folder("boxes/", input_size=320, batch_size=16)
        >>> data.class_names, data.counts
        (['circle', 'square', 'triangle'], {'train': 8, 'val': 4, 'test': 4})
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a folder path; received {path!r} of type {type(path).__name__}.")
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        raise ValueError(f"`path` is not a folder: {path!r}.")
    input_size = check_int("input_size", input_size, low=64)
    batch_size = check_int("batch_size", batch_size, low=1)
    val_fraction, test_fraction = check_fractions(val_fraction, test_fraction)
    check_bool("augment", augment)
    check_bool("flip", flip)
    check_bool("strict", strict)
    seed = check_int("seed", seed, low=0)
    layout = detect_layout(path) if layout is None else check_choice("layout", layout, LAYOUTS)
    problems: list[str] = []
    reader = {"coco": _read_coco, "voc": _read_voc, "yolo": _read_yolo}[layout]
    class_names, raw = reader(path, problems)
    if not class_names:
        raise ValueError(f"{path!r} ({layout}) names no classes.")
    if "all" in raw:
        raw = _split_all(raw["all"], val_fraction, test_fraction, seed)
    infos = {r.path: _image_info(r.path) for split in SPLITS for r in raw[split]}
    problems += [f"{r.source}: names {r.path}, which does not exist" for split in SPLITS for r in raw[split]
                 if infos[r.path][2] == "missing"]
    unreadable = sorted({f"{p}: {info[2]}" for p, info in infos.items() if info[2] not in ("", "missing")})
    labelled: dict[str, list[Labelled]] = {}
    dropped = 0
    for split in SPLITS:
        labelled[split] = []
        for r in raw[split]:
            orientation, stored, problem = infos[r.path]
            if problem:
                continue
            found = _label(r, orientation, stored, problems)
            if found is not None:
                labelled[split].append(found[0])
                dropped += found[1]
    if problems and strict:
        raise ValueError(f"{len(problems)} annotation problem(s) in {path!r} ({layout}; strict=False skips those "
                         "images): " + "; ".join(problems[:20]))
    if problems:
        warn_caller(f"Skipping {len(problems)} annotation problem(s) in {path!r}: " + "; ".join(problems[:20]))
    if unreadable:
        warn_caller(f"Skipping {len(unreadable)} unreadable image(s) in {path!r}: " + "; ".join(unreadable[:20]))
    if dropped:
        warn_caller(f"Dropped {dropped} box(es) in {path!r} with zero area or inverted corners (after clipping to the image).")
    for split in SPLITS:
        if not labelled[split]:
            raise ValueError(f"The {split} split of {path!r} holds no readable, annotated images.")
    orientations = {p: info[0] for p, info in infos.items()}
    most = max(1, max(len(item.labels) for split in SPLITS for item in labelled[split]))
    pipelines = {
        split: _pipeline(labelled[split], orientations, input_size, batch_size, most, split == "train", augment, flip, seed)
        for split in SPLITS
    }
    spread = labelled["train"][:: max(1, len(labelled["train"]) // 200)][:200]
    calibration = np.stack([np.asarray(load_image(item.path, orientations[item.path], input_size)) for item in spread])
    return DetectionData(
        train=pipelines["train"], val=pipelines["val"], test=pipelines["test"], num_classes=len(class_names),
        input_shape=(input_size, input_size, 3), class_names=list(class_names), calibration=calibration,
        counts={split: len(labelled[split]) for split in SPLITS},
        files={split: [item.path for item in labelled[split]] for split in SPLITS},
        skipped=unreadable, truth=labelled, layout=layout,
    )
