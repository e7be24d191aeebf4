"""The models this server serves (``--config``): pipelines and relays by name.

- :mod:`.schema`: the YAML file's format, checked strictly.
- :mod:`.loader`: reading it; every problem is one line naming the entry and the field.
- :mod:`.entry`: one served model, with its session count, upstream status and token usage.
- :mod:`.catalog`: all of them, built at start-up, and which one serves a name.
- :mod:`.session_defaults`: an entry's voice and instructions beneath a client secret's session.
"""

from model_catalog.catalog import ModelCatalog
from model_catalog.entry import ModelEntry, UpstreamStatus
from model_catalog.loader import CatalogConfigError, load_catalog_config
from model_catalog.schema import CatalogConfig, ModelSpec, PipelineSpec, RelaySpec
from model_catalog.session_defaults import layered_session

__all__ = [
    "CatalogConfig",
    "CatalogConfigError",
    "ModelCatalog",
    "ModelEntry",
    "ModelSpec",
    "PipelineSpec",
    "RelaySpec",
    "UpstreamStatus",
    "layered_session",
    "load_catalog_config",
]
