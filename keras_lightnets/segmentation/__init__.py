"""Semantic segmentation, layered above the models: LR-ASPP and DeepLabV3 heads on every backbone."""

from keras_lightnets.segmentation.convert import segmenter_from_torchvision
from keras_lightnets.segmentation.heads import aspp, deeplabv3_head, lraspp_head, resize_to
from keras_lightnets.segmentation.models import DeepLabV3, LRASPP, default_rates, segmentation_backbone
from keras_lightnets.segmentation.zoo import SEGMENTERS
from keras_lightnets.segmentation.data import SEGMENTATION_LAYOUTS, SegmentationData, read_mask, segmentation_folder
from keras_lightnets.segmentation.evaluate import SegmentationReport, confusion, segmentation_report
from keras_lightnets.segmentation.task import SegmentationTask

__all__ = [
    "DeepLabV3", "LRASPP", "SEGMENTATION_LAYOUTS", "SEGMENTERS", "SegmentationData", "SegmentationReport",
    "SegmentationTask", "confusion", "read_mask", "segmentation_folder", "segmentation_report", "aspp", "deeplabv3_head", "default_rates", "lraspp_head", "resize_to",
    "segmentation_backbone", "segmenter_from_torchvision",
]
