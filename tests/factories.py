from __future__ import annotations

import factory
from django.utils import timezone

from events.models import Attribute, EndUser, Metric


class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Metric

    key = factory.Sequence(lambda n: f"metric-{n}")
    name = factory.LazyAttribute(lambda o: o.key.replace("-", " ").title())


class AttributeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attribute

    key = factory.Sequence(lambda n: f"attr-{n}")
    name = factory.LazyAttribute(lambda o: o.key)
    type = "event"


class EndUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EndUser

    external_id = factory.Sequence(lambda n: f"user-{n}")
    created = factory.LazyFunction(timezone.now)
    updated = factory.LazyFunction(timezone.now)
