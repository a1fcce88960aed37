import { useEffect, useState } from "react";

import Checkout from "./components/Checkout";

export default function App() {
  const [products, setProducts] = useState([]);
  const [cart, setCart] = useState({ items: [], total: 0 });

  useEffect(() => {
    // Right: the browser talks to our own backend, which holds the secret key.
    fetch("/api/products")
      .then((res) => res.json())
      .then((data) => setProducts(data.data ?? []));
  }, []);

  function add(product) {
    setCart((prev) => ({ items: [...prev.items, product], total: prev.total + product.price }));
  }

  return (
    <main>
      <h1>Acme Shop</h1>
      <ul>
        {products.map((p) => (
          <li key={p.id}>
            {p.name} <button onClick={() => add(p)}>Add</button>
          </li>
        ))}
      </ul>
      {cart.items.length > 0 && <Checkout cart={cart} />}
    </main>
  );
}
