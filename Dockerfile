# az-bcdr-scan as a container: docker build -t az-bcdr-scan . && docker run --rm az-bcdr-scan --demo -f table
# Two stages: the first builds the wheel from this checkout, the second installs only the wheel
# (no sources, no build tools) on python:3.11-slim and runs as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY scanner ./scanner
COPY rules ./rules
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/az_bcdr_scan-*.whl && rm -rf /tmp/dist \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin scanner
USER 10001:10001
WORKDIR /home/scanner
ENTRYPOINT ["az-bcdr-scan"]
CMD ["--help"]
