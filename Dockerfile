# The tracesplit binary (serve-catalog, collect, run, analyze, …) in a slim image.
#   docker build -t tracesplit .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tracesplit

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/tracesplit /usr/local/bin/tracesplit
WORKDIR /data
ENTRYPOINT ["tracesplit"]
