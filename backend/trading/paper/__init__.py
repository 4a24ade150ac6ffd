"""The paper exchange: a matching engine per paper account, behind the same interface as real exchanges."""
