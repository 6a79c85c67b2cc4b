"""HTTP and WebSockets: the Starlette app, its middleware (security headers, hosts, body
size, CSRF), the pages, the socket and the uvicorn push transport. Turns requests into
commands and domain reads; holds no rule of the event itself. May import every layer."""
