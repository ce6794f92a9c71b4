from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Item(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: int
    data: int
    def __init__(self, header: _Optional[int] = ..., data: _Optional[int] = ...) -> None: ...

class ItemRef(_message.Message):
    __slots__ = ("item_type", "item_number")
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    item_type: int
    item_number: int
    def __init__(self, item_type: _Optional[int] = ..., item_number: _Optional[int] = ...) -> None: ...
