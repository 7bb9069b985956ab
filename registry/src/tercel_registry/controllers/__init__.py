"""The registry's route handlers, one controller per part of the API."""

from .badges import BadgesController
from .catalog import CatalogController
from .files import FilesController
from .nightly import NightlyController
from .pages import PagesController
from .simple import SimpleController
from .upload import UploadController

__all__ = [
    "BadgesController",
    "CatalogController",
    "FilesController",
    "NightlyController",
    "PagesController",
    "SimpleController",
    "UploadController",
]
