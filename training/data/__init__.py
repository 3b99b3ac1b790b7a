# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Training data: the row schema, loading and mixing, converters, and the phantom generator."""
