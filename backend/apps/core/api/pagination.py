"""Pages of 20 (up to 100 with `page_size`)."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`?page=N&page_size=M`: 20 rows by default, at most 100."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
