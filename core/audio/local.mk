# core/audio
