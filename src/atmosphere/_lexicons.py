"""The atdata lexicon layouts: which collection holds what, per namespace.

atdata moved its records between releases: up to 0.3 (the seed API) they live
under ``ac.foundation.dataset`` as ``sampleSchema`` / ``record`` / ``lens``;
from 0.7 under ``science.alt.dataset`` as ``schema`` / ``entry`` / ``lens`` /
``label``. A client's ``namespace=`` picks the whole layout from
:data:`LAYOUTS`; a namespace not in the table keeps the collection names of
the face's default layout under the new prefix. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._syntax import validate_nsid
from .errors import InvalidArgumentError

__all__ = [
    "LAYOUTS",
    "SCIENCE_ALT",
    "SEED",
    "LexiconLayout",
    "layout_for",
]


@dataclass(frozen=True)
class LexiconLayout:
    """The record names of one atdata namespace.

    Attributes:
        namespace: the NSID prefix, e.g. ``science.alt.dataset``.
        schema, dataset, lens: the last NSID segment of each collection.
        label: the label collection's segment, or ``None`` when the layout has none.
    """

    namespace: str
    schema: str
    dataset: str
    lens: str
    label: str | None = None

    def __post_init__(self) -> None:
        for name in (self.schema, self.dataset, self.lens, self.label):
            if name is not None:
                validate_nsid(f"{self.namespace}.{name}")

    @property
    def schema_collection(self) -> str:
        """The NSID of the schema collection."""
        return f"{self.namespace}.{self.schema}"

    @property
    def dataset_collection(self) -> str:
        """The NSID of the dataset collection."""
        return f"{self.namespace}.{self.dataset}"

    @property
    def lens_collection(self) -> str:
        """The NSID of the lens collection."""
        return f"{self.namespace}.{self.lens}"

    @property
    def label_collection(self) -> str:
        """The NSID of the label collection (``InvalidArgumentError`` if the layout has none)."""
        if self.label is None:
            raise InvalidArgumentError(f"the {self.namespace} layout has no label collection")
        return f"{self.namespace}.{self.label}"

    def method(self, name: str) -> str:
        """The NSID of one of the namespace's XRPC methods, e.g. ``searchDatasets``."""
        nsid = f"{self.namespace}.{name}"
        validate_nsid(nsid)
        return nsid

    def renamed(self, namespace: str) -> LexiconLayout:
        """The same collection names under another namespace."""
        return LexiconLayout(namespace, self.schema, self.dataset, self.lens, self.label)


SEED = LexiconLayout("ac.foundation.dataset", "sampleSchema", "record", "lens")
"""The seed API's layout (atdata up to 0.3): ``AtmosphereClient``'s default."""

SCIENCE_ALT = LexiconLayout("science.alt.dataset", "schema", "entry", "lens", "label")
"""atdata 0.7's layout: ``Atmosphere``'s default."""

LAYOUTS: dict[str, LexiconLayout] = {layout.namespace: layout for layout in (SEED, SCIENCE_ALT)}
"""Every known layout by namespace."""


def layout_for(namespace: str | LexiconLayout, default: LexiconLayout) -> LexiconLayout:
    """The layout a client's ``namespace=`` selects.

    A :class:`LexiconLayout` is taken as is; a known namespace gets its own
    layout from :data:`LAYOUTS`; any other namespace keeps ``default``'s
    collection names under that prefix. A malformed namespace is an
    ``InvalidIdentifierError``.
    """
    if isinstance(namespace, LexiconLayout):
        return namespace
    if not isinstance(namespace, str):
        raise InvalidArgumentError(f"namespace must be a str, got {type(namespace).__name__}")
    known = LAYOUTS.get(namespace)
    if known is not None:
        return known
    return default.renamed(namespace)
