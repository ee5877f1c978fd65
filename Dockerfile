FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Production by default: start-up then requires SECRET_KEY and CHATBRIDGE_TOKEN_KEYS.
ENV DEBUG=0
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Hashed, gzipped static files for the app to serve itself. DEBUG=1 only spares the build
# production's keys; CHATBRIDGE_STATIC_MANIFEST=1 picks the storage production reads.
RUN DEBUG=1 CHATBRIDGE_STATIC_MANIFEST=1 python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["python", "-m", "chatbridge.serve", "-b", "0.0.0.0", "-p", "8000", "chatbridge.asgi:application"]
