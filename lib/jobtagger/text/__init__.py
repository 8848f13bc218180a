"""Text normalization and the feature pipeline (pure DataFrame logic)."""
