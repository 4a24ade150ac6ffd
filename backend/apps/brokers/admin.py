"""Admin for brokers: credentials can be replaced, never read."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps.brokers.models import Broker, PaperAccount
from trading.live.catalog import exchange_ids

COMMON_EXCHANGES = ("paper", "binance", "bitget", "bybit", "kraken", "kucoin", "okx", "coinbase", "gate", "mexc")


class ExchangeInput(forms.TextInput):
    """A text field that suggests the exchange ids: the common ones first, then every one ccxt knows
    (from the stored catalog: the web process never imports ccxt)."""

    def __init__(self) -> None:
        super().__init__(attrs={"list": "exchange-ids"})

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        others = sorted(exchange_ids() - set(COMMON_EXCHANGES))
        options = format_html_join("", '<option value="{}">', ((item,) for item in (*COMMON_EXCHANGES, *others)))
        field = super().render(name, value, attrs, renderer)
        return format_html('{}<datalist id="exchange-ids">{}</datalist>', field, options)


class BrokerForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="leave empty to keep the current one"
    )
    api_secret = forms.CharField(required=False, widget=forms.PasswordInput, help_text="leave empty to keep")
    api_password = forms.CharField(required=False, widget=forms.PasswordInput, help_text="leave empty to keep")
    exchange = forms.CharField(
        help_text="paper, or a ccxt exchange id: " + ", ".join(COMMON_EXCHANGES[1:]) + ", …",
        widget=ExchangeInput(),
    )
    api_base_url = forms.URLField(required=False, assume_scheme="https", help_text="e.g. a local exchange simulator")

    class Meta:
        model = Broker
        # The encrypted fields are never part of the form: credentials are write-only.
        fields = (
            "user",
            "name",
            "exchange",
            "api_base_url",
            "is_testnet",
            "is_active",
            "is_default",
            "type_de_trading",
        )


@admin.register(Broker)
class BrokerAdmin(admin.ModelAdmin):
    form = BrokerForm
    list_display = (
        "id",
        "name",
        "user",
        "exchange",
        "type_de_trading",
        "is_active",
        "is_default",
        "is_testnet",
        "keys_set",
    )
    list_filter = ("exchange", "type_de_trading", "is_active", "is_testnet")
    search_fields = ("name", "user__username")

    @admin.display(boolean=True, description="keys set")
    def keys_set(self, obj: Broker) -> bool:
        return bool(obj.api_key_encrypted and obj.api_secret_encrypted)

    def save_model(self, request: HttpRequest, obj: Broker, form: Any, change: bool) -> None:
        data = form.cleaned_data
        obj.set_credentials(
            api_key=data.get("api_key") or None,
            api_secret=data.get("api_secret") or None,
            api_password=data.get("api_password") or None,
        )
        super().save_model(request, obj, form, change)


@admin.register(PaperAccount)
class PaperAccountAdmin(admin.ModelAdmin):
    list_display = ("broker", "updated_at")
    readonly_fields = ("broker", "balances", "next_order_id", "updated_at")
