// ESLint 9 for the dashboard's ES modules (tests/web/test_scripts.py): names that are used
// but never defined or imported, and names defined or imported but never used.
import globals from "globals";

export default [{
  files: ["**/*.js"],
  languageOptions: { ecmaVersion: 2024, sourceType: "module",
    globals: { ...globals.browser, Plotly: "readonly" } },
  rules: { "no-undef": "error", "no-unused-vars": "error" },
}];
