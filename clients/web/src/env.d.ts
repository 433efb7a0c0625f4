// Vite turns CSS imports into <link>s in the built page.
declare module "*.css";
