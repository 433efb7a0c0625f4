import { type FormEvent, useEffect, useRef, useState } from "react";
import { api, session } from "../api.js";
import { Alert } from "../components/Alert.js";
import { problemOf } from "../errors.js";

declare global {
  interface Window {
    google?: {
      accounts: {
        id: {
          initialize(o: { client_id: string; callback: (r: { credential: string }) => void }): void;
          renderButton(el: HTMLElement, o: Record<string, string>): void;
        };
      };
    };
  }
}

/** Local sign-in, and "Sign in with Google" when Berth has a Google client id configured. */
export function Login({ onSignedIn }: { onSignedIn: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const googleButton = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let cancelled = false;
    fetch("/console/config.json")
      .then((r) => r.json() as Promise<{ googleClientId?: string }>)
      .then((config) => {
        if (cancelled || !config.googleClientId) return;
        const script = document.createElement("script");
        script.src = "https://accounts.google.com/gsi/client";
        script.async = true;
        script.onload = () => {
          window.google?.accounts.id.initialize({
            client_id: config.googleClientId!,
            callback: async ({ credential }) => {
              try {
                const r = await api.auth.loginWithGoogle({ idToken: credential });
                session.set(r.token);
                onSignedIn();
              } catch (err) {
                setError(problemOf(err).message);
              }
            },
          });
          if (googleButton.current)
            window.google?.accounts.id.renderButton(googleButton.current, {
              theme: "outline",
              size: "large",
            });
        };
        document.head.append(script);
      })
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [onSignedIn]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const r = await api.auth.login({ username, password });
      session.set(r.token);
      onSignedIn();
    } catch (err) {
      setError(problemOf(err).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <h1>Berth</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          User name
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <Alert message={error} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <div ref={googleButton} className="google" />
    </main>
  );
}
