from .config import Attribute, Metric
from .derived import DailyAttributeRollup, DailyRollup, MetricTotal
from .log import Event, EventBatch
from .tenancy import ApiKey, Organization, Tenant
from .users import EndUser

__all__ = [
    "ApiKey",
    "Attribute",
    "DailyAttributeRollup",
    "DailyRollup",
    "EndUser",
    "Event",
    "EventBatch",
    "Metric",
    "MetricTotal",
    "Organization",
    "Tenant",
]
