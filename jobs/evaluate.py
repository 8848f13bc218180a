"""spark-submit entry point: `spark-submit jobs/evaluate.py --conf conf/local.yaml --run-date YYYY-MM-DD`."""

import sys

from jobtagger.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
