"""logshroud: web access logs in, anonymised Parquet out, with the evidence to prove it."""

from pathlib import Path

from setuptools import setup

setup(
    name="logshroud",
    version="0.1.0",
    description="Apache Beam pipelines that anonymise web access logs into Parquet on object storage",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["pipelines", "transforms", "transforms.parse", "logshroud_configs"],
    # The configs folder ships inside the package so the embedded default is found
    # wherever logshroud is installed, Dataflow and Flink workers included.
    package_dir={"logshroud_configs": "configs"},
    package_data={"logshroud_configs": ["*.yaml"]},
    install_requires=[
        "apache-beam[aws]>=2.77,<3",
        "pyarrow>=15",
        "netaddr>=1.0",
        "boto3>=1.34",
        "numpy>=1.26",
        "pyyaml>=6",
        "zstandard>=0.22",
        "duckdb>=1.0",
    ],
    extras_require={
        "test": ["pytest>=8", "moto[server]>=5", "ruff>=0.6", "hypothesis>=6", "pillow>=10"],
    },
    entry_points={"console_scripts": ["logshroud = pipelines.cli:main"]},
)
