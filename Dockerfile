# samsa's container image: one static binary on distroless, run as non-root.
#
#   docker build -t samsa .
#   docker run -p 9092:9092 samsa                 # one broker, embedded etcd
#   docker run -p 9092:9092 -p 9644:9644 samsa serve --ephemeral   # CI: nothing kept, dev API on 9644
#   docker compose up                             # three brokers (docker-compose.yml)
#
# The broker reads Kafka's KAFKA_* environment variables as the Kafka images
# do (KAFKA_NODE_ID=1 is node.id=1, KAFKA_LISTENERS is listeners, ...), so
# compose files written for Kafka's combined mode work unchanged.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary that needs no libc in the image.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/samsa ./cmd/samsa \
 && mkdir -p /out/var/lib/samsa

# distroless/static: CA certificates, /etc/passwd with the nonroot user
# (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/samsa /samsa
COPY --from=build --chown=65532:65532 /out/var/lib/samsa /var/lib/samsa
# Defaults for `docker run -p 9092:9092`: listen on every interface, tell
# clients on the host to use localhost:9092, keep data in the volume. The
# admin listener (/readyz, /metrics, the console; with `serve --ephemeral`
# or `dev` also the dev API) listens on every interface of the container:
# it is reachable only where 9644 is published.
ENV KAFKA_LOG_DIRS=/var/lib/samsa/data \
    KAFKA_LISTENERS=PLAINTEXT://:9092 \
    KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 \
    KAFKA_SAMSA_ADMIN_LISTENER=:9644
VOLUME /var/lib/samsa
USER 65532:65532
EXPOSE 9092 9644
ENTRYPOINT ["/samsa"]
CMD ["serve"]
