from .config import Attribute, Metric, TenantConfig
from .derived import AttributeSumsField, DailyRollup, MetricTotal, StreakRun
from .log import Event, EventBatch
from .tenancy import ApiKey, Organization, Tenant
from .users import EndUser

__all__ = [
    "ApiKey",
    "Attribute",
    "AttributeSumsField",
    "DailyRollup",
    "EndUser",
    "Event",
    "EventBatch",
    "Metric",
    "MetricTotal",
    "Organization",
    "StreakRun",
    "Tenant",
    "TenantConfig",
]
