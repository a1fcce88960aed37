"""Acme Shop backend: a small Flask app with a checkout API and "Sign in with Example"."""

import os
import secrets
from urllib.parse import urlencode

import requests
from flask import Flask, abort, jsonify, redirect, request, session

import settings

app = Flask(__name__)
app.secret_key = settings.SESSION_SECRET


@app.get("/login")
def login():
    state = secrets.token_urlsafe(16)
    session["oauth_state"] = state
    query = urlencode(
        {
            "client_id": settings.OAUTH_CLIENT_ID,
            "redirect_uri": settings.OAUTH_REDIRECT_URI,
            "response_type": "code",
            "scope": settings.OAUTH_SCOPES,
            "state": state,
        }
    )
    return redirect(f"{settings.OAUTH_AUTHORIZE_URL}?{query}")


@app.get("/oauth/callback")
def oauth_callback():
    if request.args.get("state") != session.pop("oauth_state", None):
        abort(400)
    # Wrong: the OAuth client secret is a literal in the code.
    response = requests.post(
        settings.OAUTH_TOKEN_URL,
        json={
            "grant_type": "authorization_code",
            "client_id": settings.OAUTH_CLIENT_ID,
            "client_secret": "piNEkkp7lokgpzwj9sNMK9Q0iaWm13FKvzWECxSa",
            "code": request.args["code"],
            "redirect_uri": settings.OAUTH_REDIRECT_URI,
        },
        timeout=10,
    )
    response.raise_for_status()
    session["access_token"] = response.json()["access_token"]
    return redirect("/")


@app.post("/api/charges")
def create_charge():
    body = request.get_json(force=True)
    response = requests.post(
        f"{settings.API_BASE}/charges",
        auth=(settings.API_KEY, ""),
        data={"amount": int(body["amount"]), "currency": body.get("currency", "eur")},
        timeout=20,
    )
    return jsonify(response.json()), response.status_code


@app.get("/api/products")
def products():
    # Right: the key is read from the environment and the call uses HTTPS.
    response = requests.get(
        "https://api.example.com/v1/products",
        auth=(os.environ["ACME_SECRET_KEY"], ""),
        timeout=20,
    )
    return jsonify(response.json()), response.status_code


if __name__ == "__main__":
    app.run(port=5000, debug=True)
