"""repseg: RepVGG for semantic segmentation on the OpenMMLab stack.

mmcv must be the full build with its compiled ops (mmsegmentation imports
``mmcv.ops``); on a machine without a wheel for it, build it first as
``tools/install.sh`` does, then ``pip install -e .``.
"""
from setuptools import find_packages, setup

setup(
    name='repseg',
    version='0.1.0',
    description='RepVGG backbones, segmentors and deployment tools for '
    'mmsegmentation',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['repseg', 'repseg.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'mmengine>=0.10.4,<1.0',
        # mmsegmentation 1.2.2 accepts mmcv >=2.0.0rc4, <2.2.0.
        'mmcv>=2.0.0rc4,<2.2.0',
        'mmsegmentation==1.2.2',
        'cityscapesscripts>=2.2',
        'opencv-python',
        # cityscapesscripts calls np.in1d, removed in numpy 2.4.
        'numpy<2.4',
        # mmcv's setup.py and mmengine import pkg_resources (gone in 82).
        'setuptools>=77,<82',
        # mmseg.models imports its text tokenizer unconditionally.
        'ftfy',
        'regex',
    ],
    extras_require={
        'tests': ['pytest>=7'],
        'onnx': ['onnx', 'onnxruntime', 'onnxscript'],
        # ncnn, and pnnx, which converts TorchScript traces to it; OpenVINO,
        # whose IR is converted from the ONNX export (the onnx extra), and
        # NNCF, its INT8 quantizer.
        'deploy': ['ncnn', 'pnnx', 'openvino', 'nncf'],
        # tools/run_demo.py: its report's plots (repseg.demo.report).
        'demo': ['matplotlib'],
    },
)
