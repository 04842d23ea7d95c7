"""graphc: a static-graph ML compiler (graph -> passes -> TVM kernels -> runtime)."""
from setuptools import setup

setup(
    name="graphc",
    version="0.1.0",
    description="Static-graph machine-learning compiler on TVM",
    python_requires=">=3.10",
    packages=[
        "graphc", "graphc.ops", "graphc.compat", "graphc.onnx",
        "graphc.passes",
        "graphc.codegen", "graphc.codegen.lower", "graphc.codegen.schedule",
        "graphc.runtime",
        "graphc.models",
    ],
    package_dir={
        "graphc": "graphc",
        "graphc.passes": "passes",
        "graphc.codegen": "codegen",
        "graphc.runtime": "runtime",
        "graphc.models": "models",
    },
    install_requires=[
        "numpy>=2.0,<3",
        "ml_dtypes>=0.5",  # bfloat16, float8, int4 numpy types (graphc/dtypes.py)
        "onnx==1.23.*",
        "apache-tvm==0.27.*",
        "networkx>=3.2,<4",
        "tqdm>=4.66",
        "safetensors>=0.4",
        "graphviz>=0.20",
        "psutil>=5.9",
        "tensorboard>=2.14",  # tf.summary event files (graphc/summary.py: its protobufs and record writer)
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "scikit-learn>=1.4", "onnxruntime==1.31.*"],
        # tf-keras: TensorFlow's tf.compat.v1.layers and nn.rnn_cell need Keras 2 (the TF1 corpus)
        "bench": ["onnxruntime==1.31.*", "tensorflow-cpu", "tf-keras", "torch==2.13.0"],
    },
    entry_points={"console_scripts": ["graphc=graphc.cli:main"]},
)
