"""Relays: sessions proxied to an upstream realtime API (OpenAI, Azure OpenAI, GLM-Realtime, or
any OpenAI-compatible realtime server) over WebSocket, validated and translated at our edge."""
