"""The monitor stage: reference profiles, input and prediction drift, performance with
delayed ground truth and estimated without it, service health, business KPIs, alerts and
reports, read from the prediction log the deploy stage writes."""
