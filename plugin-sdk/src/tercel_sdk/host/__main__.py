"""`python -m tercel_sdk.host`: a plugin host serving the worker that started it."""

from tercel_sdk.host._serve import main

if __name__ == "__main__":
    main()
