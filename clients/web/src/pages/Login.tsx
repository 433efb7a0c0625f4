import { type FormEvent, useEffect, useRef, useState } from "react";
import { api, session } from "../api.js";
import { Alert } from "../components/Alert.js";
import { useConsoleConfig } from "../config.js";
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

  const { googleClientId } = useConsoleConfig();
  // The latest callback, without re-running the effect (and re-rendering Google's button) for it.
  const signedIn = useRef(onSignedIn);
  signedIn.current = onSignedIn;
  useEffect(() => {
    if (!googleClientId) return;
    const container = googleButton.current;
    let cancelled = false;
    const script = document.createElement("script");
    script.src = "https://accounts.google.com/gsi/client";
    script.async = true;
    script.onload = () => {
      // A script that finishes loading after this effect was cleaned up must not draw a button.
      if (cancelled) return;
      window.google?.accounts.id.initialize({
        client_id: googleClientId,
        callback: async ({ credential }) => {
          try {
            const r = await api.auth.loginWithGoogle({ idToken: credential });
            session.set(r.token);
            signedIn.current();
          } catch (err) {
            setError(problemOf(err).message);
          }
        },
      });
      if (container) window.google?.accounts.id.renderButton(container, { theme: "outline", size: "large" });
    };
    document.head.append(script);
    return () => {
      cancelled = true;
      script.remove();
      container?.replaceChildren();
    };
  }, [googleClientId]);

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
