# RepVGG classifier for ImageNet-1k: backbone, global average pooling and
# head.fc. No variant here: the configs under configs/imagenet/ set the arch.
model = dict(
    type='RepVGGClassifier',
    backbone=dict(type='RepVGG', out_indices=(3, )),
    num_classes=1000,
    # ImageNet's mean and std, inside the model config so that tools
    # building cfg.model directly normalise too.
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True))
