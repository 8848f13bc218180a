"""jobtagger: multi-label tagging of job postings as Spark batch jobs published to Delta tables."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jobtagger")
except PackageNotFoundError:  # running from a source tree or a --py-files zip
    __version__ = "0.1.0"
