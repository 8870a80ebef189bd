import { createApp } from "vue";
import EmbedPlayer from "./EmbedPlayer.vue";
import "../style.css";

createApp(EmbedPlayer).mount("#embed");
