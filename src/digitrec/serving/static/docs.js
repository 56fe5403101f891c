// The API documentation, from the package's own copy of Swagger UI: no CDN, no inline script.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
