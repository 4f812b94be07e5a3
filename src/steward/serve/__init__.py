"""The deploy stage: model-as-a-service (REST, Open Inference Protocol v2), traffic
policies, the prediction log, blue-green switches, batch scoring and container files."""
