"""graphc: a static-graph ML compiler (graph -> passes -> TVM kernels -> runtime)."""
from setuptools import find_packages, setup

# Each top-level folder is a subpackage of graphc (passes/ is graphc.passes, ...): find every package
# below each folder, so that a new subpackage can never be left out of the wheel.
FOLDERS = {"graphc": "graphc", "graphc.passes": "passes", "graphc.codegen": "codegen",
           "graphc.runtime": "runtime", "graphc.models": "models"}
PACKAGES = [pkg for ns, folder in FOLDERS.items()
            for pkg in [ns] + [f"{ns}.{sub}" for sub in find_packages(folder)]]

setup(
    name="graphc",
    version="0.1.0",
    description="Static-graph machine-learning compiler on TVM",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir=FOLDERS,
    install_requires=[
        "numpy>=2.0,<3",
        "ml_dtypes>=0.5",  # bfloat16, float8, int4 numpy types (graphc/dtypes.py)
        "onnx==1.23.*",
        "apache-tvm==0.27.*",
        # the FFI this TVM was built against: with 0.1.15 its JSON serialization (used by tensorize's
        # DeepCopy, tvm.ir.save_json) crashes the process
        "apache-tvm-ffi==0.1.14.post0",
        "networkx>=3.2,<4",
        "tqdm>=4.66",
        "safetensors>=0.4",
        "graphviz>=0.20",
        "psutil>=5.9",
        "tensorboard>=2.14",  # tf.summary event files (graphc/summary.py: its protobufs and record writer)
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "scikit-learn>=1.4", "onnxruntime==1.31.*",
                 "cryptography>=42", "mpi4py>=4.0", "mpich>=4.2"],
        # signed artifacts (graphc compile --sign, graphc.runtime.load(..., trusted_keys=...))
        "sign": ["cryptography>=42"],
        # graphc.distributed: mpi4py and an MPI from the package index (mpiexec lands in the venv's bin)
        "distributed": ["mpi4py>=4.0", "mpich>=4.2"],
        # tf-keras: TensorFlow's tf.compat.v1.layers and nn.rnn_cell need Keras 2 (the TF1 corpus)
        "bench": ["onnxruntime==1.31.*", "tensorflow-cpu", "tf-keras", "torch==2.13.0"],
    },
    entry_points={"console_scripts": ["graphc=graphc.cli:main"]},
)
