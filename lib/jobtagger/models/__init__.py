"""Multi-label pyspark.ml Estimators."""
