"""newsdedup: exact and near-duplicate detection and story clustering for news articles.

The core (engine and the modules it uses) imports no gRPC; the gRPC edge lives
in `newsdedup.api` and the generated protocol code in `newsdedup.v1`.
"""

__version__ = "0.1.0"
