"""Where a picture's numbers are: the learned number finder of a page."""

from digitrec.layout.finder import FoundNumbers, NumberFinderRuntime, Target, field_choices, number_boxes, page_canvas

__all__ = ["FoundNumbers", "NumberFinderRuntime", "Target", "field_choices", "number_boxes", "page_canvas"]
