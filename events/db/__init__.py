"""Database plumbing below the domain: statements the ORM cannot express portably
(`sql`: INSERT ... ON CONFLICT with RETURNING, additive upserts, COPY staging on
PostgreSQL) and reads compiled once per process (`prepared`). Nothing here knows about
events, users or tenants; models and services hand it model classes and rows."""
