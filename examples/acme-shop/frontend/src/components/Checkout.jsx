import { useState } from "react";
import { loadStripe } from "@stripe/stripe-js";

// Right: a publishable key is public by design.
const stripePromise = loadStripe("pk_live_Rpi9WWxYA3npa1vqwfsWdtlM");

// Wrong: a secret key in code that runs in every visitor's browser.
const SECRET_KEY = "sk_live_qqoWskxskCJFB9CtjYkwTMtE";

export default function Checkout({ cart }) {
  const [status, setStatus] = useState("idle");

  async function pay() {
    setStatus("paying");
    // Wrong: plain HTTP, and the secret key travels with it.
    const response = await fetch("http://api.example.com/v1/payment_intents", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${SECRET_KEY}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ amount: String(cart.total), currency: "eur" }),
    });
    const intent = await response.json();
    const stripe = await stripePromise;
    const result = await stripe.confirmCardPayment(intent.client_secret);
    setStatus(result.error ? "failed" : "paid");
  }

  return (
    <section className="checkout">
      <h2>Checkout</h2>
      <p>Total: {(cart.total / 100).toFixed(2)} €</p>
      <button onClick={pay} disabled={status === "paying"}>
        Pay now
      </button>
      {status === "failed" && <p className="error">Payment failed, please try again.</p>}
      {status === "paid" && <p className="ok">Thank you for your order!</p>}
    </section>
  );
}
