"""Semantic segmentation, layered above the models: LR-ASPP and DeepLabV3 heads on every backbone."""

from keras_lightnets.segmentation.convert import segmenter_from_torchvision
from keras_lightnets.segmentation.heads import aspp, deeplabv3_head, lraspp_head, resize_to
from keras_lightnets.segmentation.models import DeepLabV3, LRASPP, default_rates, segmentation_backbone
from keras_lightnets.segmentation.zoo import SEGMENTERS

__all__ = [
    "DeepLabV3", "LRASPP", "SEGMENTERS", "aspp", "deeplabv3_head", "default_rates", "lraspp_head", "resize_to",
    "segmentation_backbone", "segmenter_from_torchvision",
]
