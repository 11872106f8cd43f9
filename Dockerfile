# coachbot's image: the wheel is built and installed (with the versions CI tests, constraints.txt)
# into a virtual environment in one stage; the slim runtime stage gets only that environment.
# HTTP mode by default; set SLACK_APP_TOKEN for Socket Mode (then HEALTHCHECK has nothing to ask).
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
COPY migrations ./migrations
RUN pip install --no-cache-dir build \
    && python -m build --wheel --outdir /dist . \
    && python -m venv /opt/coachbot \
    && /opt/coachbot/bin/pip install --no-cache-dir -c constraints.txt /dist/*.whl

FROM python:${PYTHON_VERSION}-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home --shell /usr/sbin/nologin coachbot
COPY --from=build /opt/coachbot /opt/coachbot
ENV PATH=/opt/coachbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER coachbot
# The working directory is where a .env file and the default SQLite database would be.
WORKDIR /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status != 200)"]
CMD ["coachbot", "run", "--port", "3000"]
